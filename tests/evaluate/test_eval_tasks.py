"""conf/tasks/*.yaml against DataComp's task table (reference/datacomp.md, copied here)."""
import json

import pytest

from harness.cli import main
from harness.errors import SelbenchError
from harness.evaluate.tasks import load_suite, select_tasks, task_rows

# key | display name | test size | main metric | classes | random score | group
DATACOMP_TABLE = """\
vtab/caltech101|Caltech-101|6085|mean_per_class_recall|102|0.009804|VTAB
cifar10|CIFAR-10|10000|acc1|10|0.1|
vtab/cifar100|CIFAR-100|10000|acc1|100|0.01|VTAB
vtab/clevr_count_all|CLEVR Counts|15000|acc1|8|0.125061|VTAB
vtab/clevr_closest_object_distance|CLEVR Distance|15000|acc1|6|0.19052|VTAB
country211|Country211|21100|acc1|211|0.004739|
vtab/dtd|Describable Textures|1880|acc1|47|0.021277|VTAB
vtab/eurosat|EuroSAT|5400|acc1|10|0.101483|VTAB
fgvc_aircraft|FGVC Aircraft|3333|mean_per_class_recall|100|0.01|
food101|Food-101|25250|acc1|101|0.009901|
gtsrb|GTSRB|12630|acc1|43|0.037604|
imagenet1k|ImageNet 1k|50000|acc1|1000|0.001|ImageNet
imagenet_sketch|ImageNet Sketch|50889|acc1|1000|0.001|ImageNet dist. shifts
imagenetv2|ImageNet v2|10000|acc1|1000|0.001|ImageNet dist. shifts
imagenet-a|ImageNet-A|7500|acc1|200|0.008056|ImageNet dist. shifts
imagenet-o|ImageNet-O|2000|acc1|200|0.006047|ImageNet dist. shifts
imagenet-r|ImageNet-R|30000|acc1|200|0.006163|ImageNet dist. shifts
vtab/kitti_closest_vehicle_distance|KITTI Vehicle Distance|711|acc1|4|0.295289|VTAB
mnist|MNIST|10000|acc1|10|0.10035|
objectnet|ObjectNet|18574|acc1|113|0.009481|ImageNet dist. shifts
vtab/flowers|Oxford Flowers-102|6149|mean_per_class_recall|102|0.009804|VTAB
vtab/pets|Oxford-IIIT Pet|3669|mean_per_class_recall|37|0.027027|VTAB
voc2007|Pascal VOC 2007|14976|acc1|20|0.154038|
vtab/pcam|PatchCamelyon|32768|acc1|2|0.5|VTAB
renderedsst2|Rendered SST2|1821|acc1|2|0.500001|
vtab/resisc45|RESISC45|6300|acc1|45|0.022342|VTAB
cars|Stanford Cars|8041|acc1|196|0.00516|
stl10|STL-10|8000|acc1|10|0.1|
sun397|SUN397|108754|acc1|397|0.004645|VTAB
vtab/svhn|SVHN|26032|acc1|10|0.117897|VTAB
retrieval/flickr_1k_test_image_text_retrieval|Flickr|1000|mean_recall@1|||Retrieval
retrieval/mscoco_2014_5k_test_image_text_retrieval|MSCOCO|5000|mean_recall@1|||Retrieval
misc/winogavil|WinoGAViL|3563|jaccard_score_10-12||0.205|Retrieval
wilds/iwildcam|iWildCam|42791|F1-macro_all|182|0.143056|
wilds/camelyon17|Camelyon17|85054|acc1|2|0.5|
wilds/fmow|FMoW|22108|acc_worst_region|62|0.027193|
fairness/dollar_street|Dollar Street|3503|acc_top5_wg|58||
fairness/geode|GeoDE|12488|acc_wg|40||
fairness/fairface|FairFace|10954||||
fairness/utkface|UTKFace|23703||||"""


def _table():
    rows = []
    for line in DATACOMP_TABLE.splitlines():
        key, name, size, metric, classes, rnd, group = line.split("|")
        rows.append(dict(key=key, name=name, size=int(size), main_metric=metric or None,
                         num_classes=int(classes) if classes else None,
                         random_score=float(rnd) if rnd else None, group=group or None))
    return rows


def test_datacomp38_matches_reference_table():
    tasks = load_suite("datacomp38")
    assert len(tasks) == 40 and sum(t.scored for t in tasks) == 38
    for task, row in zip(tasks, _table(), strict=True):
        got = dict(key=task.key, name=task.name, size=task.size, main_metric=task.main_metric,
                   num_classes=task.num_classes, random_score=task.random_score, group=task.group)
        assert got == row


def test_datacomp38_group_sizes_and_dirs():
    tasks = load_suite("datacomp38")
    sizes = {g: sum(t.group == g for t in tasks) for g in ("ImageNet", "ImageNet dist. shifts", "VTAB", "Retrieval")}
    assert sizes == {"ImageNet": 1, "ImageNet dist. shifts": 6, "VTAB": 13, "Retrieval": 3}
    dirs = {t.key: t.dir for t in tasks}
    assert dirs["vtab/cifar100"] == "wds_vtab-cifar100_test"
    assert dirs["wilds/iwildcam"] == "wds_wilds-iwildcam_test"
    assert dirs["fairness/geode"] == "wds_geode_test"
    assert dirs["imagenet1k"] == "wds_imagenet1k_test"
    assert len(set(dirs.values())) == 40


def test_tiny_suite_lists_the_embedded_tasks():
    tasks = load_suite("tiny")
    got = {t.key: (t.group, t.main_metric) for t in tasks}
    assert got == {
        "objects": ("ImageNet", "acc1"), "objects_sketch": ("ImageNet dist. shifts", "acc1"),
        "objects_corrupt": ("ImageNet dist. shifts", "acc1"),
        "objects_background": ("ImageNet dist. shifts", "acc1"),
        "count": ("VTAB", "acc1"), "color": ("VTAB", "acc1"), "position": ("VTAB", "acc1"),
        "texture": ("VTAB", "acc1"), "digits": ("VTAB", "mean_per_class_recall"),
        "rendered_sst2": (None, "acc1"), "retrieval": ("Retrieval", "mean_recall@1")}
    for t in tasks:
        assert t.dir == t.key
        if t.num_classes:
            assert t.random_score == pytest.approx(1 / t.num_classes, abs=1e-6)


def test_task_rows_and_ls_json(capsys):
    rows = task_rows("datacomp38")
    assert all(set(r) == {"key", "name", "main_metric", "group", "random_score", "scored"} for r in rows)
    assert main(["ls", "tasks", "suite=tiny", "format=json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == task_rows("tiny") and len(printed) == 11


def test_unknown_suite_and_task(capsys):
    with pytest.raises(SelbenchError, match="unknown suite 'datacomp'.*datacomp38"):
        load_suite("datacomp")
    with pytest.raises(SelbenchError, match="unknown task 'object'.*objects"):
        select_tasks(load_suite("tiny"), ["object"])
    assert main(["ls", "tasks", "suite=nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("selbench: error: unknown suite 'nope'") and err.count("\n") == 1


def test_tiny_class_counts_match_the_embedded_vocabulary():
    from harness.synth import vocab

    counts = {t.key: t.num_classes for t in load_suite("tiny")}
    objects = len(vocab.CONCEPT_NAMES)
    assert counts == {"objects": objects, "objects_sketch": objects, "objects_corrupt": objects,
                      "objects_background": objects, "count": len(vocab.COUNT_NAMES),
                      "color": len(vocab.COLOR_NAMES), "position": len(vocab.POSITION_NAMES),
                      "texture": len(vocab.TEXTURE_NAMES), "digits": 10, "rendered_sst2": 2,
                      "retrieval": None}
