"""Everything that touches Ray: the builder (`build_app`), the thin deployment classes (ingress,
router, tiers), Ray metrics and the echo engine. The rest of `serve_app` imports without Ray."""
