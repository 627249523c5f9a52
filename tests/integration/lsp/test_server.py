"""`mlspec lsp` end to end: the real server (`python -m mlspec lsp`) driven by a real LSP
client over stdio (pytest-lsp's, on pygls), as an editor drives it: open, edit, diagnostics,
hover, definition, references, completion, quick fix and rename, hostile documents, and no
file written anywhere."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities, make_test_lsp_client

from conftest import REPO, invoke_mlspec

# Every answer is checked against the client's capabilities by pytest-lsp: a breach fails.
pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")

CHURN = REPO / "specs" / "customer-churn.yaml"
TEXT = CHURN.read_text(encoding="utf-8")


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@asynccontextmanager
async def lsp_session(tmp_path: Path, capabilities: types.ClientCapabilities | None = None, **initialization):
    """A server started as an editor starts it, in a work folder of its own and with a home,
    cache and config folder of its own (all watched for files written). The client declares
    what Neovim 0.10 declares (pytest-lsp's record of it), and pytest-lsp checks every answer
    against those capabilities."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    for folder in (home, work):
        folder.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO / "src"), "HOME": str(home),
           "XDG_CACHE_HOME": str(home / ".cache"), "XDG_CONFIG_HOME": str(home / ".config"),
           "MLSPEC_CACHE_KEY": str(home / "cache.key")}
    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "mlspec", "lsp", "--stdio", env=env, cwd=str(work))
    capabilities = capabilities or client_capabilities("neovim@v0.10.0")
    result = await client.initialize_session(types.InitializeParams(
        capabilities=capabilities, initialization_options=initialization or None,
        root_uri=work.as_uri()))
    client.init_result = result
    try:
        yield client
    finally:
        await client.shutdown_session()
    assert _tree(home) == [] and _tree(work) == [], "the server wrote files"


def _uri(tmp_path: Path, name: str = "customer-churn.yaml") -> str:
    return (tmp_path / "specs" / name).as_uri()


async def _open(client, uri: str, text: str) -> list[types.Diagnostic]:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text)))
    return await _diagnostics(client, uri, 1)


async def _diagnostics(client, uri: str, version: int, timeout: float = 30) -> list[types.Diagnostic]:
    async def wait():
        while True:
            params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
            if params.uri == uri and params.version == version:
                return list(params.diagnostics)
    return await asyncio.wait_for(wait(), timeout)


def _line(needle: str, occurrence: int = 0) -> int:
    """The 1-based line of the spec where `needle` occurs: the example spec grows, the tests follow it."""
    return _position(TEXT, needle, 0, occurrence).line + 1


def _position(text: str, needle: str, offset: int = 0, occurrence: int = 0) -> types.Position:
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    return types.Position(line=line, character=index - (text.rfind("\n", 0, index) + 1))


async def _edit(client, uri: str, version: int, text: str, old: str, new: str) -> tuple[str, list]:
    """Replace the first `old` with `new` as an editor does (an incremental change), and
    wait for the diagnostics of that version."""
    start = _position(text, old)
    end = types.Position(line=start.line, character=start.character + len(old))
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=start, end=end), text=new)]))
    return text.replace(old, new, 1), await _diagnostics(client, uri, version)


def _validate_json(tmp_path: Path, text: str) -> list[dict]:
    spec = tmp_path / "cli" / "customer-churn.yaml"
    spec.parent.mkdir(exist_ok=True)
    spec.write_text(text, encoding="utf-8")
    result = invoke_mlspec("validate", "--format", "json", str(spec), env={"MLSPEC_NO_CACHE": "1"})
    return json.loads(result.stdout)["diagnostics"]


@pytest.mark.asyncio
async def test_diagnostics_are_validates_on_open_and_on_every_edit(tmp_path):
    uri = _uri(tmp_path)
    async with lsp_session(tmp_path) as client:
        assert await _open(client, uri, TEXT) == []

        text, found = await _edit(client, uri, 2, TEXT, "slo: churn-api", "slo: churn-apx")
        [diagnostic] = found
        assert diagnostic.code == "E207" and diagnostic.source == "mlspec"
        assert diagnostic.severity == types.DiagnosticSeverity.Error
        assert diagnostic.message == "unknown SLO `churn-apx`\nnot defined under `slos`\nhelp: did you mean `churn-api`?"
        assert diagnostic.code_description.href.endswith("/docs/codes.md#e207")
        assert Path(diagnostic.code_description.href.removeprefix("file://").split("#")[0]) == REPO / "docs/codes.md"
        value = _position(text, "churn-apx")
        assert diagnostic.range == types.Range(start=value, end=types.Position(line=value.line,
                                                                               character=value.character + 9))
        # Exactly what `mlspec validate` says of the same text.
        [cli] = _validate_json(tmp_path, text)
        assert (cli["code"], cli["line"] - 1, cli["col"] - 1, cli["endCol"] - 1) == \
            (diagnostic.code, diagnostic.range.start.line, diagnostic.range.start.character,
             diagnostic.range.end.character)

        # An environment's overlay is checked too: a valid base value overridden with one
        # that is not valid in `dev` only.
        text, found = await _edit(client, uri, 3, text, "models.churn.serving.replicas: {min: 1, max: 1}",
                                  "models.churn.serving.replicas: {min: 1, max: 0}")
        assert sorted(d.code for d in found) == ["E108", "E207"]
        overlay = next(d for d in found if d.code == "E108")
        assert "(in environment `dev`)" in overlay.message
        assert overlay.range.start == _position(text, "max: 0}", 5)
        assert sorted((d["code"], d["line"] - 1) for d in _validate_json(tmp_path, text)) == \
            sorted((d.code, d.range.start.line) for d in found)

        # A document that is not YAML at all is a diagnostic too, and fixing it clears it.
        text, found = await _edit(client, uri, 4, text, "kind: MLSystem", "kind: [MLSystem")
        assert [d.code for d in found] == ["E001"]
        text, found = await _edit(client, uri, 5, text, "kind: [MLSystem", "kind: MLSystem")
        assert sorted(d.code for d in found) == ["E108", "E207"]


@pytest.mark.asyncio
async def test_a_quick_fix_replaces_the_misspelled_name_with_the_suggestion(tmp_path):
    uri = _uri(tmp_path)
    async with lsp_session(tmp_path) as client:
        await _open(client, uri, TEXT)
        # A misspelled feature inside `view.feature`: only the feature's part changes.
        text, [diagnostic] = await _edit(client, uri, 2, TEXT, "customer_features.avg_order_value",
                                         "customer_features.avg_order_valeu")
        assert diagnostic.code == "E204"
        actions = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic])))
        [action] = actions
        assert action.kind == types.CodeActionKind.QuickFix and action.is_preferred
        assert action.title == "Replace `avg_order_valeu` with `avg_order_value`"
        [edit] = action.edit.changes[uri]
        start = _position(text, "avg_order_valeu")
        # a client asking only for other kinds of actions gets none
        assert await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic],
                                            only=[types.CodeActionKind.SourceOrganizeImports]))) is None
        assert edit.range.start == start and edit.new_text == "avg_order_value"
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[types.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text)]))
        assert await _diagnostics(client, uri, 3) == []


@pytest.mark.asyncio
async def test_hover_shows_the_fields_doc_and_its_value_per_environment_with_the_files_it_feeds(tmp_path):
    uri = _uri(tmp_path)
    async with lsp_session(tmp_path) as client:
        await _open(client, uri, TEXT)
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(TEXT, "max: 5", 5)))
        text = hover.contents.value
        assert hover.contents.kind == types.MarkupKind.Markdown
        # The description the JSON Schema publishes for the field.
        schema = json.loads((REPO / "schema" / "mlspec.schema.json").read_text(encoding="utf-8"))
        assert schema["$defs"]["ReplicaBounds"]["properties"]["max"]["description"] in text
        assert text.startswith("`models.churn.serving.replicas.max`: Maximum replicas.")
        # What `mlspec explain` says, per environment.
        assert f"| `dev` | `1` | override, line {_line('models.churn.serving.replicas:')} | `k8s/dev/inferenceservice-churn.yaml` |" in text
        assert f"| `prod` | `5` | spec, line {_line('replicas: {min: 1, max: 5}')} | `k8s/prod/inferenceservice-churn.yaml` |" in text
        explained = invoke_mlspec("explain", "models.churn.serving.replicas.max", str(CHURN), "--env", "dev",
                                  env={"MLSPEC_NO_CACHE": "1"}).stdout
        assert "feeds k8s/dev/inferenceservice-churn.yaml" in explained

        # A name: what it refers to.
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(TEXT, "source: customer_activity", 10)))
        assert "Dataset (by name) the features are read from." in hover.contents.value
        assert f"dataset `customer_activity`: defined on line {_line('  customer_activity:')}" in hover.contents.value

        # A key being typed (the document does not even parse): still its documentation.
        broken = TEXT.replace("      replicas: {min: 1, max: 5}", "      replicas: {min: 1, max: 5}\n      runtime")
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=broken)]))
        assert [d.code for d in await _diagnostics(client, uri, 2)] == ["E001"]
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(broken, "      runtime", 9)))
        assert "KServe ServingRuntime name, when the format has no built-in runtime." in hover.contents.value


@pytest.mark.asyncio
async def test_definition_and_references_follow_the_languages_references(tmp_path):
    uri = _uri(tmp_path)
    async with lsp_session(tmp_path) as client:
        await _open(client, uri, TEXT)

        async def definition(needle: str, offset: int = 0, occurrence: int = 0):
            found = await client.text_document_definition_async(types.DefinitionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=_position(TEXT, needle, offset, occurrence)))
            return [(d.range.start.line + 1, TEXT.splitlines()[d.range.start.line][
                d.range.start.character:d.range.end.character]) for d in found or []]

        assert await definition("slo: churn-api", 6) == [(_line("  churn-api:"), "churn-api")]  # rollout -> SLO
        assert await definition("source: customer_activity", 9) == [(_line("  customer_activity:"), "customer_activity")]  # view -> dataset
        # model feature `view.feature`: the view part and the feature part
        assert await definition("customer_features.avg_order_value", 2) == [(_line("  customer_features:"), "customer_features")]
        feature = await definition("customer_features.avg_order_value", 20)
        assert feature == [(TEXT[:TEXT.index("avg_order_value: float32")].count("\n") + 1, "avg_order_value")]
        # a view's feature is a column of its source dataset; an entity's join key too
        assert (await definition("avg_order_value: float32"))[0][1] == "avg_order_value"
        assert await definition("label: customers.churn", 8) == [(TEXT[:TEXT.index("  customers:")].count("\n") + 1,
                                                                  "customers")]
        join_key = await definition("joinKeys: [customer_id]", 12)
        assert {name for _, name in join_key} == {"customer_id"} and len(join_key) >= 1
        # a model named by an environment's override
        assert await definition("models.churn.serving.replicas", 8) == [(_line("\n  churn:") + 1, "churn")]

        refs = await client.text_document_references_async(types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(TEXT, "  churn-api:", 2),
            context=types.ReferenceContext(include_declaration=True)))
        assert sorted(r.range.start.line + 1 for r in refs) == [_line("slo: churn-api"), _line("  churn-api:")]


@pytest.mark.asyncio
async def test_completion_offers_keys_from_the_schema_and_the_names_a_place_may_refer_to(tmp_path):
    uri = _uri(tmp_path)
    async with lsp_session(tmp_path) as client:
        await _open(client, uri, TEXT)

        async def complete(text: str, needle: str, offset: int, version: int) -> list[str]:
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
            result = await client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=_position(text, needle, offset)))
            return [item.label for item in result.items]

        # an SLO name for a rollout
        assert await complete(TEXT.replace("slo: churn-api", "slo: "), "slo: ", 5, 2) == ["churn-api"]
        # a model's features: every `view.feature` and `view.*`
        labels = await complete(TEXT.replace("features: [customer_features.total_purchases,",
                                             "features: [customer_features.total_purchases, cu,"),
                                "cu,", 2, 3)
        assert "customer_features.*" in labels and "customer_features.support_tickets_count" in labels
        # a view's source: the datasets
        labels = await complete(TEXT.replace("source: customer_activity", "source: cu"), "source: cu", 10, 4)
        assert labels == ["customers", "customer_activity"]
        # keys of a model's serving section, from the spec models (those not written yet)
        edited = TEXT.replace("      replicas: {min: 1, max: 5}", "      replicas: {min: 1, max: 5}\n      ser")
        labels = await complete(edited, "      ser", 9, 5)
        assert "runtime" in labels and "modelFormat" in labels
        assert "serviceAccount" not in labels and "replicas" not in labels  # written already
        # column types, and the gate metrics of a regression model
        labels = await complete(TEXT.replace("churn: {type: int8", "churn: {type: "), "churn: {type: ", 14, 6)
        assert labels == ["int8", "int16", "int32", "int64", "float32", "float64", "bool", "string", "timestamp",
                          "bytes"]
        regression = TEXT.replace("task: binary_classification", "task: regression").replace(
            '      gates: {accuracy: ">= 0.85", roc_auc: ">= 0.80"}', "      gates:\n        r")
        assert "gates:\n        r" in regression
        assert await complete(regression, "gates:\n        r", 16, 7) == ["rmse", "mae", "r2", "mape"]


@pytest.mark.asyncio
async def test_rename_changes_every_reference_and_nothing_else(tmp_path):
    uri = _uri(tmp_path)
    async with lsp_session(tmp_path) as client:
        await _open(client, uri, TEXT)
        prepared = await client.text_document_prepare_rename_async(types.PrepareRenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(TEXT, "source: customer_activity", 12)))
        assert prepared.placeholder == "customer_activity"
        edit = await client.text_document_rename_async(types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(TEXT, "source: customer_activity", 12),
            new_name="activity"))
        edits = edit.changes[uri]
        renamed = _apply(TEXT, edits)
        # The dataset's key and the view's source; the SQL and the storage path are not references.
        assert renamed == TEXT.replace("  customer_activity:", "  activity:").replace(
            "source: customer_activity", "source: activity")
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=renamed)]))
        assert await _diagnostics(client, uri, 2) == []

        # A feature is a column of its view's source: both go, with every `view.feature`.
        edit = await client.text_document_rename_async(types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=_position(renamed, "customer_features.avg_order_value", 20), new_name="mean_order_value"))
        again = _apply(renamed, edit.changes[uri])
        assert "avg_order_value" not in again and again.count("mean_order_value") == renamed.count("avg_order_value")
        assert [line for line in again.splitlines() if line.lstrip().startswith("#")] == \
            [line for line in TEXT.splitlines() if line.lstrip().startswith("#")]

        # A rename the spec would refuse is refused, and nothing changes.
        with pytest.raises(Exception, match="not a valid Kubernetes name"):
            await client.text_document_rename_async(types.RenameParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=_position(renamed, "slo: churn-api", 6),
                new_name="Churn_API"))


def _apply(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.split("\n")
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        assert edit.range.start.line == edit.range.end.line
        line = lines[edit.range.start.line]
        lines[edit.range.start.line] = line[:edit.range.start.character] + edit.new_text + line[edit.range.end.character:]
    return "\n".join(lines)


@pytest.mark.asyncio
@pytest.mark.parametrize("encoding, units", [("utf-16", (14, 18, 21)), ("utf-8", (14, 20, 23)),
                                             ("utf-32", (14, 17, 20))])
async def test_columns_are_counted_in_the_clients_units(tmp_path, encoding, units):
    """The encoding the client prefers (UTF-16 unless it offers another): a character outside
    the BMP before the place counts 2 (UTF-16), 4 (UTF-8) or 1 (UTF-32), both ways."""
    uri = _uri(tmp_path)
    line = ("  churn-api: {errorRate: {max: 0.01}, latencyP95Ms: {max: 100}, minRequests: 100, interval: 10s,"
            " iterations: 10}")
    text = TEXT.replace(line, line.replace("{errorRate:", '{"\U0001F600": 1, errorRate:'))
    capabilities = client_capabilities("neovim@v0.10.0")
    capabilities.general.position_encodings = [encoding]
    async with lsp_session(tmp_path, capabilities) as client:
        assert client.init_result.capabilities.position_encoding == encoding
        [diagnostic] = await _open(client, uri, text)
        assert diagnostic.code == "E101"
        # `"😀"` starts at character 14 and is 4 characters long (quotes included)
        assert (diagnostic.range.start.character, diagnostic.range.end.character) == units[:2]
        # ... and a place the client names after it is read in the same units
        number = _position(text, "errorRate").line
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=number, character=units[2] + 2)))
        assert "Maximum share of 5xx responses" in hover.contents.value


@pytest.mark.asyncio
async def test_hostile_documents_get_the_loaders_diagnostics_and_never_stall_the_server(tmp_path):
    bomb = "apiVersion: mlspec/v1alpha1\nkind: MLSystem\na: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
        f" *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9))
    huge = "apiVersion: mlspec/v1alpha1\n" + "# " + "x" * (17 * 1024 * 1024) + "\n"
    async with lsp_session(tmp_path) as client:
        started = time.monotonic()
        [diagnostic] = await _open(client, _uri(tmp_path, "bomb.yaml"), bomb)
        assert diagnostic.code == "E009" and "alias" in diagnostic.message
        [diagnostic] = await _open(client, _uri(tmp_path, "huge.yaml"), huge)
        assert diagnostic.code == "E004"
        assert time.monotonic() - started < 30
        # ... and the server still answers about a good document.
        uri = _uri(tmp_path)
        assert await _open(client, uri, TEXT) == []
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(TEXT, "slo: churn-api", 6)))
        assert "SLO (by name" in hover.contents.value


@pytest.mark.asyncio
async def test_a_codes_url_from_the_editor_is_where_diagnostics_link(tmp_path):
    uri = _uri(tmp_path)
    async with lsp_session(tmp_path, codesUrl="https://docs.example.org/codes.html") as client:
        [diagnostic] = await _open(client, uri, TEXT.replace("slo: churn-api", "slo: nope"))
        assert diagnostic.code_description.href == "https://docs.example.org/codes.html#e207"


@pytest.mark.asyncio
async def test_a_client_without_markdown_gets_plain_text(tmp_path):
    uri = _uri(tmp_path)
    async with lsp_session(tmp_path, types.ClientCapabilities()) as client:
        await _open(client, uri, TEXT)
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(TEXT, "slo: churn-api", 6)))
        assert hover.contents.kind == types.MarkupKind.PlainText and "SLO (by name" in hover.contents.value
