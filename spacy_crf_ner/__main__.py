"""``python -m spacy_crf_ner``: see :mod:`spacy_crf_ner.cli`."""
from .cli import main

if __name__ == "__main__":
    main()
