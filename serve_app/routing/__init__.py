"""Pure routing logic: which text is scored, how it is scored, and what the score decides.

Nothing here imports Ray; torch and sentence-transformers load only when an encoder is built.
"""
