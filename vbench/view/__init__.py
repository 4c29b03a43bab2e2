"""`vbench view`: browse runs (conversations, persona images, extracted outcomes) locally or as a static site."""
