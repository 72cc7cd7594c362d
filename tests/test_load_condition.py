"""Reading one condition prepares only that condition (load_condition), not every split of the config."""
import pytest

from benchmark.data.load import condition_files, load_condition
from benchmark.schema import FEATURES


def test_one_condition_reads_only_its_files(tiny_dataset):
    files = condition_files(tiny_dataset, "brightness")
    assert files and all("/data/default/brightness-" in f for f in files)
    ds = load_condition(tiny_dataset, "brightness")
    assert set(ds["condition"]) == {"brightness"} and len(ds) == 6
    assert list(ds.info.splits) == ["brightness"]  # the card's config would have prepared all four splits
    assert ds.features == FEATURES  # the build's features, read from the files


def test_unknown_split_or_config_names_what_is_valid(tiny_dataset):
    with pytest.raises(KeyError, match="no split 'fog_3'; valid splits: brightness, clear"):
        condition_files(tiny_dataset, "fog_3")
    with pytest.raises(KeyError, match="no config 'train'; this dataset has: default"):
        condition_files(tiny_dataset, "clear", config="train")
