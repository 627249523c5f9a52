"""The jinja2 environment every template is rendered with.

Templates are dumb (layout only; Python precomputes names and order), undefined
variables are errors, and a user template folder, when given, is searched first.
"""

from __future__ import annotations

import os
from functools import lru_cache

from mlspec.locations import USER_TEMPLATES_ENV, cache_disabled, cache_root, template_dir
from mlspec.textsafe import markdown_code, markdown_text, safe_link


@lru_cache(maxsize=4)
def environment(user_dir: str | None = None):
    import jinja2

    loaders = []
    user_dir = user_dir or os.environ.get(USER_TEMPLATES_ENV)
    if user_dir:
        loaders.append(jinja2.FileSystemLoader(user_dir))
    loaders.append(jinja2.FileSystemLoader(str(template_dir())))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    # Python literals in generated code are ASCII: a spec string can then mean only itself,
    # whatever source encoding a reader assumes.
    env.filters["pyrepr"] = ascii
    env.filters["md"] = markdown_text
    env.filters["mdcode"] = markdown_code
    env.tests["safe_link"] = safe_link
    return env


def _bytecode_cache():
    """Compiling the templates is a fifth of a cold compile; jinja2 keeps the compiled code
    in the cache folder, keyed on each template's name and checked against a hash of its
    source (so an edited or user template is recompiled, never served stale)."""
    import jinja2

    if cache_disabled():
        return None
    folder = cache_root() / "jinja2"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a cache that cannot be written is only slower

    class QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
        """Compiled template code is executed when loaded, and the cache folder is not
        trusted (mlspec.integrity): each file is sealed with this user's HMAC key, bound to
        the template's cache name, and loaded only when the seal verifies (read without
        following links, at most 16 MiB); anything else is compiled again."""

        def load_bytecode(self, bucket) -> None:
            from mlspec import integrity
            from mlspec.fsutil import read_regular

            try:
                payload = integrity.unseal("jinja2", bucket.key,
                                           read_regular(self._get_cache_filename(bucket), 16 * 1024 * 1024))
                if payload is None:  # forged, damaged, or another user's: compile again
                    bucket.reset()
                    return
                bucket.bytecode_from_string(payload)
            except (OSError, EOFError, ValueError, TypeError):  # missing, unreadable or cut short
                bucket.reset()

        def dump_bytecode(self, bucket) -> None:
            import tempfile

            from mlspec import integrity

            blob = integrity.seal("jinja2", bucket.key, bucket.bytecode_to_string())
            if blob is None:
                return  # no key: keep nothing that could not be verified
            try:
                fd, tmp = tempfile.mkstemp(prefix=".jinja2.", suffix=".tmp", dir=self.directory)
                try:
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(blob)
                    os.replace(tmp, self._get_cache_filename(bucket))
                except BaseException:
                    os.unlink(tmp)
                    raise
            except OSError:  # full disk, read-only cache: only slower
                pass

    return QuietBytecodeCache(str(folder))


def pyliteral(value, indent: int = 0, sort_dicts: bool = False) -> str:
    """A Python literal of plain data (str, numbers, bool, None, lists, tuples, dicts) for
    generated code: `pprint` never emits anything but literals, so no spec string can break
    out of it. Continuation lines are indented by `indent`; dict order is kept unless sorted."""
    import pprint

    text = pprint.pformat(value, width=100, sort_dicts=sort_dicts)
    # Non-ASCII characters only occur inside string literals here, where \x.. / \u.. escapes
    # mean the same characters: the literal is ASCII whatever encoding a reader assumes.
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text.replace("\n", "\n" + " " * indent)


def render_template(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
