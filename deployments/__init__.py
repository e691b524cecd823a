"""Ray Serve deployment classes: thin shells around serve_app's logic. `serve_app.builder` binds them."""
