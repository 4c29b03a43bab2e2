"""Factor-controlled avatar dataset: versioned prompt design, diffusers builder, factor verification."""
