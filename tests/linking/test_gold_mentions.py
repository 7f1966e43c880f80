"""GoldMentionsCorpus: predicted docs carry the gold entities without IDs."""
import spacy
from spacy.tokens import DocBin

from spacy_crf_ner.linking.gold_mentions import create_gold_mentions_reader


def test_predicted_docs_carry_gold_mentions_without_ids(tmp_path):
    nlp = spacy.blank("en")
    ref = nlp.make_doc("Shares of Big Blue rose.")
    ref.ents = [ref.char_span(10, 18, label="ORG", kb_id="Q1")]
    DocBin(docs=[ref]).to_disk(tmp_path / "dev.spacy")
    [eg] = list(create_gold_mentions_reader(tmp_path / "dev.spacy")(nlp))
    assert [(e.text, e.label_, e.kb_id_) for e in eg.predicted.ents] == [("Big Blue", "ORG", "")]
    assert [(e.text, e.kb_id_) for e in eg.reference.ents] == [("Big Blue", "Q1")]
    assert eg.predicted.text == eg.reference.text
