"""What every layer shares: the error hierarchy (:mod:`.errors`), the API's wire models
(:mod:`.models`), argument checks, URL redaction and optional-dependency imports.

Nothing here imports another part of the package.
"""
