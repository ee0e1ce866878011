"""kaggle-kit: take a Kaggle image-classification competition from raw data to a scored submission."""

__version__ = "0.1.0"
