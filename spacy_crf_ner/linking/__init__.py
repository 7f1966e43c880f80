"""The trainable mode of the ``entity_normalizer``: a mention encoder that
needs no word vectors (:mod:`.encoder`), the stored embeddings of every KB
alias and their dense search (:mod:`.alias_embeddings`), the joined sparse +
dense candidates of a batch (:mod:`.candidates`), the candidate ranker that
scores them with the mention's context (:mod:`.ranker`), and a corpus reader
whose predicted docs carry the gold mentions (:mod:`.gold_mentions`).
See docs/design/learned-normalizer.md.
"""
