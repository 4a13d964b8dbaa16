# Sphinx configuration of a site with nnlens elements: the package's files are in _static/nnlens/,
# and elements.js is loaded as a module on every page.
project = "nnlens in Sphinx"
html_static_path = ["_static"]
html_js_files = [("nnlens/elements.js", {"type": "module"})]
