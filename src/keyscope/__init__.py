"""keyscope: which of our API keys can do more than they need?"""

__version__ = "0.1.0"
