"""`mlspec lsp`: a Language Server Protocol server for spec files, a front end beside the CLI.

Everything a spec's diagnostics say comes from the one front end every command uses
(`mlspec.compiler.session`), run on the editor's buffer. The modules here are plain Python on
plain data (0-based lines, columns in characters), so they are tested without a client:

    document    one version of a buffer: the front end's verdict, its diagnostics and quick fixes
    symbols     the references of the language (feature -> view -> dataset, ...): definition,
                references, rename
    context     where the cursor stands in a document that may not even parse
    complete    completion of keys and of reference values
    hover       a field's documentation, its effective value per environment and what it feeds
    server      the pygls server (the only module that imports pygls and lsprotocol)
"""
