"""bortkit: a research workbench that reproduces Bort (OSE of BERT by an FPTAS, KD pretraining,
fine-tuning and Agora) on a CPU, offline.

Importing the package sets the offline environment (`bortkit.utils.configure_offline`) before
transformers or datasets are imported, so notebooks and scripts never reach for a model hub.
"""

from __future__ import annotations

from bortkit.utils import configure_offline

configure_offline()

__version__ = "0.1.0"
__all__ = ["__version__"]
