"""What every layer shares: the error hierarchy (:mod:`.errors`), the API's wire models
(:mod:`.models`), argument checks, URL redaction, the cleaning of text a model
reads (:mod:`._text`) and optional-dependency imports.

Nothing here imports another part of the package.
"""
