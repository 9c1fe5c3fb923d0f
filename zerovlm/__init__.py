"""zerovlm: spatial reasoning of vision-language models with novel views and 3D priors."""

__version__ = "0.1.0"
