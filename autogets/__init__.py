"""AutoGeTS: improve a text classifier's weak classes with LLM-generated training data chosen by search."""

__version__ = "0.1.0"
