"""Product kinds from catalog category text, stored with the index."""

import json

import pytest

from index.store.kinds import KindRules, KindRulesError, ProductKinds, category_noun, load_kind_rules

RULES = load_kind_rules(None)


@pytest.mark.parametrize(
    "category, kinds",
    [
        ("Chair", {"chair"}),
        ("chairs", {"chair"}),  # plural category names, as shops write them
        ("Coffee table", {"dining table"}),
        ("Table lamp", set()),  # the head is "lamp": a lamp, not a table
        ("Chair pad", set()),
        ("Cushion cover", set()),
        ("Three-seat sofa", {"couch"}),
        ("Three-seat sofa-bed", {"couch", "bed"}),
        ("sofas", {"couch"}),
        ("Bed frame with storage", {"bed"}),  # the qualifier after "with" is dropped
        ("Rug, flatwoven", set()),
        ("Table, outdoor", {"dining table"}),
        ("Floor,reading lamp", set()),
        ("Deep plate,bowl", {"bowl"}),  # "plate/bowl": either alternative counts
        ("Wash-basin", {"sink"}),
        ("Microwave oven", {"microwave", "oven"}),
        ("Microwave combi with forced air", {"microwave"}),
        ("Whiskey glass", {"cup"}),  # a tumbler is COCO's cup
        ("Wine glass", {"cup", "wine glass"}),
        ("Glass-door cabinet", set()),
        ("Scented candle in glass", set()),
        ("benches", {"bench"}),
        ("", set()),
        (None, set()),
    ],
)
def test_default_rules_read_the_head_of_the_category(category, kinds):
    assert RULES.kinds_of(category) == kinds


def test_custom_rules_from_json(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"chair": ["stol"], "couch": ["soffa", "hörnsoffa"]}))
    rules = load_kind_rules(path)
    assert rules.kinds_of("Stol") == {"chair"} and rules.kinds_of("Hörnsoffa") == {"couch"}
    assert rules.kinds_of("Chair") == set()  # the defaults are replaced, not extended


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"chair": "stol"}'])
def test_bad_rules_are_refused(tmp_path, text):
    path = tmp_path / "rules.json"
    path.write_text(text)
    with pytest.raises(KindRulesError):
        load_kind_rules(path)
    with pytest.raises(KindRulesError, match="Cannot read"):
        load_kind_rules(tmp_path / "missing.json")


def test_each_kind_has_its_products_rows():
    kinds = ProductKinds.of_categories(["Table lamp", "Chair", "Sofa", "Armchair", "Sofa-bed"], RULES)
    assert kinds.classes == ("bed", "chair", "couch") and "chair" in kinds and "tv" not in kinds and len(kinds) == 3
    assert "lamp" in kinds and kinds.rows_of("lamp").tolist() == [0] and kinds.rows_of("couch").tolist() == [2, 4]
    assert kinds.is_of(0, "lamp") and kinds.is_of(4, "bed") and not kinds.is_of(0, "chair")
    assert {k: r.tolist() for k, r in kinds.rows.items()} == {"chair": [1, 3], "couch": [2, 4], "bed": [4]}
    assert kinds.of_row[0] == frozenset() and kinds.of_row[4] == {"couch", "bed"}
    assert [kinds.kinds_of(row) for row in (0, 1, 4)] == [{"lamp"}, {"chair"}, {"couch", "bed"}]


def test_products_without_a_category_take_part_in_every_kind():
    # P3 has no category: it may be a chair or a sofa. P0, a lamp, is neither.
    kinds = ProductKinds.of_categories(["Table lamp", "Chair", "Sofa", ""], RULES)
    assert kinds.rows["chair"].tolist() == [1, 3] and kinds.rows["couch"].tolist() == [2, 3]
    assert kinds.of_row[3] == frozenset()  # it vouches for no kind when unsure detections are checked
    assert kinds.kinds_of(3) == frozenset()  # nor votes for one


def test_a_catalog_without_categories_has_no_kinds():
    kinds = ProductKinds.of_categories([None, "", "Lamp"], RULES)
    assert not kinds and kinds.classes == ()


def test_rules_match_whole_words_only():
    rules = KindRules.from_mapping({"bed": ["bed"]})
    assert rules.kinds_of("Flowerbed") == set() and rules.kinds_of("Day-bed") == {"bed"}


@pytest.mark.parametrize(
    "category, noun",
    [
        ("Bookcase", "bookcase"),
        ("Wardrobes", "wardrobe"),
        ("Rug, flatwoven", "rug"),
        ("Rug,flatwoven", "rug"),
        ("Chest of 3 drawers", "chest"),
        ("CHEST OF DRAWERS", "chest"),
        ("Glass-door cabinet", "cabinet"),
        ("Wash-stand with 2 drawers", "stand"),
        ("Floor/reading lamp", "floor"),  # the first alternative: one word per kind is all it needs
        ("Quilt cover and 4 pillowcases", "cover"),
        ("Armoire", "armoire"),  # any language: the word is a key, not a rule
        ("", ""),
        (None, ""),
        ("  , ", ""),
    ],
)
def test_category_noun_names_what_a_product_is(category, noun):
    assert category_noun(category) == noun


def test_products_no_detector_class_covers_are_of_the_catalogs_own_kinds():
    kinds = ProductKinds.of_categories(["Table lamp", "Chair", "Bookcase", "Pendant lamp", "", "Bookcases"], RULES)
    assert {k: r.tolist() for k, r in kinds.others.items()} == {"bookcase": [2, 5], "lamp": [0, 3]}
    assert kinds.rows["chair"].tolist() == [1, 4]  # the product without a category is in no other kind


def test_kinds_read_back_as_they_were_written():
    kinds = ProductKinds.of_categories(["Table lamp", "Chair", "", "Sofa-bed", "Bookcases", None], RULES)
    again = ProductKinds.from_json(kinds.to_json())
    assert again.of_row == kinds.of_row and again.own_of_row == kinds.own_of_row
    assert {k: r.tolist() for k, r in again.rows.items()} == {k: r.tolist() for k, r in kinds.rows.items()}
    assert again.words == kinds.words == ("bed", "chair", "couch", "bookcase", "lamp")


def test_rules_are_identified_by_what_they_match():
    same = KindRules.from_mapping({"couch": ["Sofas", "couch"]})
    assert same.sha256 == KindRules.from_mapping({"couch": ["couch", "sofa"]}).sha256
    assert same.sha256 != KindRules.from_mapping({"couch": ["couch"]}).sha256 != RULES.sha256
