"""Templates: Keras model code with Hyperas-style ``{{...}}`` markers, compiled into a space."""

from hypertune.template.compiler import MODEL_FUNCTIONS, Template, compile_source, compile_template

__all__ = ["MODEL_FUNCTIONS", "Template", "compile_source", "compile_template"]
