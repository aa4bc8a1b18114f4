"""ganscope's GAN engine: configs, targets, models, losses, training, frames, recordings, CLI.

Importable from a notebook or the CLI with no web stack: nothing here imports dash, plotly or flask.
"""

__version__ = "0.1.0"
