from pathlib import Path

import pytest

from distil.pipeline import ConfigError, load_config, parse_config


@pytest.fixture
def config_file(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "onto.yaml").write_text("classes:\n  car: car\n")
    path = tmp_path / "run.yaml"
    path.write_text("inputs: images\nontology: onto.yaml\ntrain:\n  epochs: 3\n")
    return path


def test_defaults_relative_paths_and_overrides(config_file, tmp_path):
    config = load_config(config_file, {"train.imgsz": 320, "name": "b", "train.options.lr0": 0.1})
    assert config.inputs == [tmp_path / "images"]
    assert config.ontology == tmp_path / "onto.yaml"
    assert (config.train.epochs, config.train.imgsz, config.name) == (3, 320, "b")
    assert config.train.options == {"lr0": 0.1}
    assert config.export.formats == ["onnx"] and config.dataset.split == (0.8, 0.2, 0.0)


def test_a_url_input_is_kept_as_a_url(config_file, tmp_path):
    from distil.sources import as_url

    config_file.write_text("inputs: [images, 's3://bucket/site a']\nontology: onto.yaml\n")
    config = load_config(config_file)
    assert config.inputs[0] == tmp_path / "images"
    assert as_url(config.inputs[1]) == "s3://bucket/site a"  # not under the config's folder


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"ontology": "onto.yaml"}, "inputs: is required"),
        ({"inputs": "images", "ontology": "onto.yaml", "trian": {}}, "Did you mean 'train'"),
        (
            {"inputs": "images", "ontology": "onto.yaml", "train": {"epoch": 3}},
            "train.epoch: unknown field. Did you mean 'epochs'",
        ),
        (
            {"inputs": "images", "ontology": "onto.yaml", "train": {"epochs": "x"}},
            "train.epochs: must be a whole number",
        ),
        (
            {"inputs": "images", "ontology": "onto.yaml", "label": {"half": "yes"}},
            "label.half: must be true or false",
        ),
        ({"inputs": "missing", "ontology": "onto.yaml"}, "inputs: .*missing not found"),
        (
            {"inputs": "images", "ontology": "onto.yaml", "fail_under": {"map": 0.5}},
            "unknown metric 'map'",
        ),
        (
            {"inputs": "images", "ontology": "onto.yaml", "export": {"formats": ["onx"]}},
            "Did you mean 'onnx'",
        ),
        (
            {"inputs": "images", "ontology": "onto.yaml", "dataset": {"task": "pose"}},
            "dataset.task: must be one of detect, segment",
        ),
        (
            {"inputs": "images", "ontology": "onto.yaml", "label": {"every": 2, "fps": 1.0}},
            "label.every and label.fps both choose frames",
        ),
        (
            {"inputs": "images", "ontology": "onto.yaml", "label": {"detect_evry": 5}},
            "Did you mean 'detect_every'",
        ),
        (
            {
                "inputs": "images",
                "ontology": "onto.yaml",
                "train": {"model": "rf-detr-nano"},
                "export": {"int8": True},
            },
            "export.int8: train.model rf-detr-nano is a transformers student, which exports "
            "to float ONNX only",
        ),
        (
            {
                "inputs": "images",
                "ontology": "onto.yaml",
                "train": {"candidates": ["yolo11n", "d-fine-n"]},
                "export": {"formats": ["tflite"]},
            },
            "export.formats: train.model d-fine-n",
        ),
        (
            {"inputs": "images", "ontology": "onto.yaml", "train": {"select": "latency<5"}},
            "train.select",
        ),
    ],
)
def test_bad_configs_name_the_field(config_file, tmp_path, data, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(data, "run.yaml", base=tmp_path)


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("inputs: [a\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(tmp_path / "bad.yaml")


def test_the_example_config_documents_every_field():
    """configs/example-run.yaml names every option of every section, and nothing else."""
    from pathlib import Path

    import yaml

    from distil.settings import SECTIONS, RunSettings

    example = yaml.safe_load((Path(__file__).parents[2] / "configs/example-run.yaml").read_text())
    assert set(example) == set(RunSettings.model_fields)
    for name, section in SECTIONS.items():
        assert set(example[name]) == set(section.model_fields), name


def test_every_path_in_the_file_is_relative_to_it_and_set_paths_to_the_cwd(tmp_path, monkeypatch):
    cfg = tmp_path / "cfg"
    (cfg / "images").mkdir(parents=True)
    (cfg / "onto.yaml").write_text("classes: [car]\n")
    (tmp_path / "review").mkdir()
    (tmp_path / "review" / "export.json").write_text("[]")
    (cfg / "run.yaml").write_text(
        "inputs: images\nontology: onto.yaml\nproject: ../runs\n"
        "review: {corrections: [../review/export.json], document_root: ../review}\n"
        "eval: {ground_truth: images}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "mine").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    config = load_config(cfg / "run.yaml")
    assert config.project == tmp_path / "runs"
    assert config.review.corrections == [tmp_path / "review" / "export.json"]
    assert config.review.corrections[0].exists()  # found: the review loop can advance
    assert config.review.document_root == tmp_path / "review"
    assert config.eval.ground_truth == cfg / "images"
    # What the user types on the command line is relative to where they stand.
    typed = load_config(Path("../cfg/run.yaml"), {"inputs": "mine", "project": "out"})
    assert typed.inputs == [elsewhere / "mine"]
    assert typed.project == elsewhere / "out"
    assert typed.ontology == cfg / "onto.yaml"
