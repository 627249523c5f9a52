"""The language server: LSP over stdio with pygls, on top of the plain modules of this package.

Each open document is analysed (the front end on the buffer's text) by one worker thread,
latest version first: while it works on one version the server keeps reading, and a
version that was edited again before its analysis ended is not published (the newest is
analysed next). Requests (hover, definition, ...) wait for the analysis of the version they
are about. Positions cross the edge here: the client's units (UTF-16 unless it chose
otherwise) in, characters inside.

The server reads only what the editor sends: a document it was not given (didOpen) is not
read from disk, and nothing is written (the result cache and compiled templates are off in
this process, Python writes no bytecode).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from mlspec.diagnostics import Diagnostic, Severity
from mlspec.lsp.document import Analysis
from mlspec.lsp.text import TextRange

logger = logging.getLogger("mlspec.lsp")

NAME = "mlspec"
# Past this size a hover does not compile the spec to find what a value feeds (two compiles
# of a spec that large take seconds; `mlspec explain` answers it).
FEEDS_MAX_CHARS = 512 * 1024
# A document up to this size is analysed on the server's own thread (a typical spec takes
# ~10 ms; a thread hop costs more than that under load). A larger one goes to the worker
# thread, so the server keeps reading while it works and skips versions edited meanwhile.
INLINE_MAX_CHARS = 256 * 1024


def codes_doc_url() -> str:
    """Where the code documentation is, as a URL: the docs/codes.md mlspec ships (in the
    wheel) or the repository's (in a source checkout)."""
    from mlspec.locations import PACKAGE_DIR

    for candidate in (PACKAGE_DIR / "docs" / "codes.md", PACKAGE_DIR.parents[1] / "docs" / "codes.md"):
        if candidate.is_file():
            return candidate.resolve().as_uri()
    return ""


def uri_to_path(uri: str) -> Path:
    """The file a document URI names (`file:///...`); any other scheme (an editor's unsaved
    buffer, `untitled:Untitled-1`) is checked under its name alone."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = unquote(parsed.path)
        if os.name == "nt" and path[:1] == "/" and path[2:3] == ":":
            path = path[1:]
        return Path(path)
    return Path(unquote(parsed.path or uri).rsplit("/", 1)[-1] or "untitled.yaml")


class SpecServer(LanguageServer):
    def __init__(self, codes_url: str = ""):
        super().__init__(NAME, _version(), text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.codes_url = codes_url or codes_doc_url()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlspec-analysis")
        self.analyses: dict[str, tuple[int | None, Analysis]] = {}
        self.last_loaded: dict[str, dict] = {}  # uri -> the data of its last version that loaded
        self.running: dict[str, asyncio.Task] = {}
        self.opened: set[str] = set()
        self.memos: dict[str, tuple[int | None, dict]] = {}  # uri -> (version, feeds memo)
        self.frozen = False

    # --- documents -------------------------------------------------------------------------

    def document(self, uri: str):
        return self.workspace.get_text_document(uri) if uri in self.opened else None

    def analyse_soon(self, uri: str) -> None:
        """Analyse the newest version of `uri` and publish its diagnostics (one analysis runs
        per document at a time; it picks up edits made meanwhile)."""
        if uri not in self.running or self.running[uri].done():
            self.running[uri] = asyncio.get_running_loop().create_task(self._analyse_loop(uri))

    async def _analyse_loop(self, uri: str) -> None:
        while uri in self.opened:
            document = self.document(uri)
            version = document.version
            try:
                analysis = await self._analyse(uri, version, document.source)
            except Exception as exc:  # a bug in mlspec: said in the editor's log, the server goes on
                logger.exception("analysis failed")
                self.window_log_message(types.LogMessageParams(
                    type=types.MessageType.Error,
                    message=f"mlspec: internal error while checking {uri}: {type(exc).__name__}: {exc}"
                            " (a bug in mlspec; please report it)"))
                return
            current = self.document(uri)
            if current is None:
                return
            if current.version == version:
                self.publish(uri, version, analysis)
                return

    async def _analyse(self, uri: str, version, text: str) -> Analysis:
        if len(text) <= INLINE_MAX_CHARS:
            analysis = Analysis.of(uri_to_path(uri), text)
        else:
            analysis = await asyncio.get_running_loop().run_in_executor(self.worker, Analysis.of, uri_to_path(uri), text)
        if not self.frozen:
            # What the first analysis imported and built (pydantic's validators, the modules)
            # lives as long as the server: out of the garbage collector's way, so a collection
            # after an edit walks only what that edit allocated.
            gc.collect()
            gc.freeze()
            self.frozen = True
        self.analyses[uri] = (version, analysis)
        if analysis.loaded:
            self.last_loaded[uri] = analysis.unit.source.data
        return analysis

    async def current(self, uri: str) -> Analysis | None:
        """The analysis of the document's current version (waiting for it if need be)."""
        document = self.document(uri)
        if document is None:
            return None
        while True:
            version = document.version
            known = self.analyses.get(uri)
            if known is not None and known[0] == version:
                return known[1]
            task = self.running.get(uri)
            if task is not None and not task.done():
                await asyncio.shield(task)
                continue
            return await self._analyse(uri, version, document.source)

    def memo(self, uri: str) -> dict:
        version = self.document(uri).version if self.document(uri) else None
        known = self.memos.get(uri)
        if known is None or known[0] != version:
            known = (version, {})
            self.memos[uri] = known
        return known[1]

    def forget(self, uri: str) -> None:
        self.opened.discard(uri)
        for table in (self.analyses, self.last_loaded, self.memos):
            table.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def start_io(self, stdin=None, stdout=None) -> None:
        """Serve on stdin/stdout (see _PipeReader); stdin that is not a pipe (a file, say)
        is read as pygls reads it."""
        try:
            asyncio.run(self._serve_io(stdin or sys.stdin.buffer, stdout or sys.stdout.buffer))
        except (BrokenPipeError, KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    async def _serve_io(self, stdin, stdout) -> None:
        import threading

        from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async

        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout))
        stream = asyncio.StreamReader(limit=64 * 1024)
        try:
            await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), stdin)
            reader = _PipeReader(stream)
        except (ValueError, OSError):
            reader = StdinAsyncReader(stdin, self.thread_pool)
        await run_async(stop_event=self._stop_event, reader=reader, protocol=self.protocol, logger=logger,
                        error_handler=self.report_server_error)

    def markup(self, formats, text: str) -> types.MarkupContent:
        """Markdown when the client renders it (its capabilities say), else the same text plain."""
        markdown = types.MarkupKind.Markdown in (formats or ())
        return types.MarkupContent(kind=types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText,
                                   value=text)

    def _capability(self, *names):
        value = self.client_capabilities
        for name in names:
            value = getattr(value, name, None)
            if value is None:
                return None
        return value

    # --- positions: the client's units at the edge ----------------------------------------

    def to_client(self, uri: str, analysis: Analysis, rng: TextRange) -> types.Range:
        codec = self.workspace.position_codec
        lines = analysis.lines

        def position(line: int, col: int) -> types.Position:
            if line >= len(lines):
                return types.Position(line=max(len(lines) - 1, 0), character=codec.client_num_units(lines[-1]))
            text = lines[line]
            return types.Position(line=line, character=codec.client_num_units(text[:max(col, 0)]))

        return types.Range(start=position(rng.line, rng.col), end=position(rng.end_line, rng.end_col))

    def from_client(self, analysis: Analysis, position: types.Position) -> tuple[int, int]:
        codec = self.workspace.position_codec
        lines = analysis.lines
        if position.line >= len(lines):
            return len(lines) - 1, len(lines[-1])
        text = lines[position.line]
        units = 0
        for index, ch in enumerate(text):
            if units >= position.character:
                return position.line, index
            units += codec.client_num_units(ch)
        return position.line, len(text)

    # --- diagnostics -----------------------------------------------------------------------

    def publish(self, uri: str, version, analysis: Analysis) -> None:
        items = [self.to_lsp_diagnostic(uri, analysis, d) for d in analysis.diagnostics]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, version=version,
                                                                              diagnostics=items))

    def to_lsp_diagnostic(self, uri: str, analysis: Analysis, d: Diagnostic) -> types.Diagnostic:
        message = d.message
        if d.label:
            message += f"\n{d.label}"
        if d.help:
            message += f"\nhelp: {d.help}"
        return types.Diagnostic(
            range=self.to_client(uri, analysis, analysis.range_of(d)),
            message=message,
            severity=types.DiagnosticSeverity.Error if d.severity is Severity.ERROR else types.DiagnosticSeverity.Warning,
            code=d.code,
            code_description=types.CodeDescription(href=f"{self.codes_url}#{d.code.lower()}") if self.codes_url
            else None,
            source=NAME,
            data={"path": d.path_text} if d.path else None,
        )


class _PipeReader:
    """pygls's reader interface on an asyncio stream: stdin read by the event loop itself,
    rather than by a thread per header line and body (three thread hops per message, which
    cost more than checking a spec on a busy machine)."""

    def __init__(self, stream: asyncio.StreamReader):
        self.stream = stream

    async def readline(self) -> bytes:
        try:
            return await self.stream.readline()
        except ValueError:  # a header line past the stream's limit: not LSP, stop reading
            return b""

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self.stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""


def _version() -> str:
    from mlspec import __version__

    return __version__


def build_server(codes_url: str = "") -> SpecServer:
    server = SpecServer(codes_url)

    @server.feature(types.INITIALIZE)
    def initialize(ls: SpecServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict) and isinstance(options.get("codesUrl"), str) and options["codesUrl"]:
            ls.codes_url = options["codesUrl"]

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SpecServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.opened.add(params.text_document.uri)
        ls.analyse_soon(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SpecServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.analyse_soon(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SpecServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: SpecServer, params: types.HoverParams) -> types.Hover | None:
        from mlspec.lsp.hover import hover as hover_text

        analysis = await ls.current(params.text_document.uri)
        if analysis is None:
            return None
        line, col = ls.from_client(analysis, params.position)
        feeds = len(analysis.text) <= FEEDS_MAX_CHARS
        memo = ls.memo(params.text_document.uri)
        text = await asyncio.get_running_loop().run_in_executor(None, hover_text, analysis, line, col, memo, feeds)
        if not text:
            return None
        return types.Hover(contents=ls.markup(ls._capability("text_document", "hover", "content_format"), text))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    async def definition(ls: SpecServer, params: types.DefinitionParams) -> list[types.Location] | None:
        uri = params.text_document.uri
        analysis = await ls.current(uri)
        if analysis is None:
            return None
        line, col = ls.from_client(analysis, params.position)
        targets = analysis.index.targets_at(line, col)
        return [types.Location(uri=uri, range=ls.to_client(uri, analysis, o.range)) for o in targets] or None

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    async def references(ls: SpecServer, params: types.ReferenceParams) -> list[types.Location] | None:
        uri = params.text_document.uri
        analysis = await ls.current(uri)
        if analysis is None:
            return None
        line, col = ls.from_client(analysis, params.position)
        symbol = analysis.index.symbol_at(line, col)
        if symbol is None:
            return None
        found = analysis.index.references(symbol, include_definition=params.context.include_declaration)
        return [types.Location(uri=uri, range=ls.to_client(uri, analysis, o.range))
                for o in sorted(found, key=lambda o: o.range)]

    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=[".", " ", "[", ",", "-"]))
    async def completion(ls: SpecServer, params: types.CompletionParams) -> types.CompletionList | None:
        from mlspec.lsp.complete import complete
        from mlspec.lsp.context import context_at

        uri = params.text_document.uri
        analysis = await ls.current(uri)
        if analysis is None:
            return None
        line, col = ls.from_client(analysis, params.position)
        ctx = context_at(analysis.lines, line, col)
        if ctx is None:
            return None
        data = analysis.unit.source.data if analysis.loaded else ls.last_loaded.get(uri, {})
        replace = ls.to_client(uri, analysis, TextRange(line, ctx.start, line, col))
        kinds = {"key": types.CompletionItemKind.Property, "value": types.CompletionItemKind.Value,
                 "reference": types.CompletionItemKind.Reference}
        formats = ls._capability("text_document", "completion", "completion_item", "documentation_format")
        items = [types.CompletionItem(
            label=item.label, kind=kinds[item.kind], detail=item.detail or None,
            documentation=ls.markup(formats, item.documentation) if item.documentation else None,
            text_edit=types.TextEdit(range=replace, new_text=item.insert),
            filter_text=item.label, sort_text=f"{index:04d}")
            for index, item in enumerate(complete(ctx, data))]
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    async def code_action(ls: SpecServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        only = params.context.only
        if only and not any(types.CodeActionKind.QuickFix.value.startswith(kind) for kind in only):
            return None  # the client asks for other kinds of actions (organize imports, refactorings)
        analysis = await ls.current(uri)
        if analysis is None:
            return None
        start = ls.from_client(analysis, params.range.start)
        end = ls.from_client(analysis, params.range.end)
        wanted = TextRange(*start, *end)
        actions = []
        for d in analysis.diagnostics:
            if not analysis.range_of(d).overlaps(wanted):
                continue
            for fix in analysis.quick_fixes(d):
                edit = types.TextEdit(range=ls.to_client(uri, analysis, fix.edit.range), new_text=fix.edit.new_text)
                actions.append(types.CodeAction(
                    title=fix.title, kind=types.CodeActionKind.QuickFix,
                    diagnostics=[ls.to_lsp_diagnostic(uri, analysis, d)], is_preferred=len(actions) == 0,
                    edit=types.WorkspaceEdit(changes={uri: [edit]})))
        return actions or None

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    async def prepare_rename(ls: SpecServer, params: types.PrepareRenameParams):
        from mlspec.lsp.symbols import RENAMEABLE

        uri = params.text_document.uri
        analysis = await ls.current(uri)
        if analysis is None:
            return None
        line, col = ls.from_client(analysis, params.position)
        here = [o for o in analysis.index.at(line, col) if o.symbol[0] in RENAMEABLE]
        if not here:
            return None
        occurrence = next((o for o in here if o.definition), here[0])
        return types.PrepareRenamePlaceholder(range=ls.to_client(uri, analysis, occurrence.range),
                                              placeholder=occurrence.symbol[-1])

    @server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))
    async def rename(ls: SpecServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
        from pygls.exceptions import JsonRpcInvalidRequest

        from mlspec.lsp.rename import RenameRefused, rename_edits

        uri = params.text_document.uri
        analysis = await ls.current(uri)
        if analysis is None:
            return None
        line, col = ls.from_client(analysis, params.position)
        try:
            edits = await asyncio.get_running_loop().run_in_executor(
                ls.worker, rename_edits, analysis, line, col, params.new_name)
        except RenameRefused as exc:
            raise JsonRpcInvalidRequest(str(exc)) from None
        if not edits:
            return None
        return types.WorkspaceEdit(changes={uri: [
            types.TextEdit(range=ls.to_client(uri, analysis, e.range), new_text=e.new_text) for e in edits]})

    return server


def serve(codes_url: str = "") -> None:
    """Run the server on stdin/stdout until the client exits."""
    # Nothing is written: no result cache, no compiled templates (both off with this variable,
    # for this process only), no bytecode of the modules imported from here on.
    os.environ["MLSPEC_NO_CACHE"] = "1"
    sys.dont_write_bytecode = True
    build_server(codes_url).start_io()
