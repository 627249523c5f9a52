"""The packaged templates' code, compiled by jinja2 ahead of time (`make templates`; generated,
never edited): one module per template, named by a hash of its source (see
mlspec.targets.templating.precompiled_key). tests/unit/targets/test_precompiled_templates.py
fails when a template changed and this folder was not written again."""
