"""nnaccel: a fast, cycle-accurate simulator of the SqueezeNext paper's inference accelerator."""

__version__ = "0.1.0"
