"Reading W&B's binary run file: the framing (blocks, chunks, CRC), the records, and the views plots use."
import json, struct, zlib
import numpy as np
import pytest
from fnn_nbdev.errors import ConfigError
from fnn_nbdev.wandb_file import read_wandb_records, wandb_run_file, wandb_histograms, wandb_history, epoch_rows

def chunk(kind, data): return struct.pack("<IHB", zlib.crc32(data, zlib.crc32(bytes([kind]))), len(data), kind) + data

def test_reader_checks_the_framing(tmp_path):
    (tmp_path / "x.wandb").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(ConfigError, match="W&B run file"): read_wandb_records(tmp_path / "x.wandb")
    # a valid file, built by hand: a record split over two blocks (FIRST + LAST) and one in a single chunk (FULL)
    from wandb.proto import wandb_internal_pb2 as pb
    big = pb.Record()
    big.history.item.add(key="x", value_json=json.dumps("a" * 40000))
    small = pb.Record()
    small.exit.exit_code = 0
    raw = big.SerializeToString()
    first = 32768 - 7 - 7
    data = b":W&B\xe1\xbe\x00" + chunk(2, raw[:first]) + chunk(4, raw[first:]) + chunk(1, small.SerializeToString())
    (tmp_path / "ok.wandb").write_bytes(data)
    recs = read_wandb_records(tmp_path / "ok.wandb")
    assert [r.WhichOneof("record_type") for r in recs] == ["history", "exit"]
    assert json.loads(recs[0].history.item[0].value_json) == "a" * 40000
    bad = bytearray(data)
    bad[100] ^= 1
    (tmp_path / "bad.wandb").write_bytes(bytes(bad))
    with pytest.raises(ConfigError, match="checksum"): read_wandb_records(tmp_path / "bad.wandb")
    # cut short while the writer is still going: the complete records so far
    (tmp_path / "cut.wandb").write_bytes(data[:-5])
    assert [r.WhichOneof("record_type") for r in read_wandb_records(tmp_path / "cut.wandb")] == ["history"]

def test_the_run_file_is_found_from_a_record(tmp_path):
    wb = tmp_path / "run" / "wandb" / "offline-run-1"
    wb.mkdir(parents=True)
    (wb / "run-1.wandb").write_bytes(b":W&B\xe1\xbe\x00")
    (tmp_path / "run" / "summary.json").write_text(json.dumps({"wandb": {"dir": str(wb)}}))
    for source in (wb / "run-1.wandb", wb, tmp_path / "run"): assert wandb_run_file(source) == wb / "run-1.wandb"
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigError, match="path: expected a W&B run folder"): wandb_run_file(tmp_path / "plain")

def hist_row(epoch, values):
    counts, edges = np.histogram(values, bins=64)
    return {"epoch": epoch, "step": 10 * epoch, "loss": 1.0 / epoch,
            "params/W1": {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}}

def test_histograms_over_epochs_share_one_grid_and_keep_their_counts():
    rng = np.random.default_rng(0)
    run = {"history": [hist_row(e, rng.normal(0, 0.1 * e, 500)) for e in (1, 2, 3)]
           + [{"batch_loss": 0.5, "step": 5}, {"epoch": 3, "confusion_matrix_table": {"_type": "table-file"}}]}
    assert [r["epoch"] for r in epoch_rows(run)] == [1, 2, 3]
    epochs, edges, counts = wandb_histograms(run, "params/W1", bins=40)
    assert list(epochs) == [1, 2, 3] and counts.shape == (3, 40) and edges.shape == (41,)
    np.testing.assert_array_equal(counts.sum(1), [500, 500, 500])
    centres = (edges[:-1] + edges[1:]) / 2
    spread = [np.sqrt(np.average(centres ** 2, weights=c)) for c in counts]
    assert spread[0] < spread[1] < spread[2]                          # the widening is kept on the common grid
    assert wandb_history(run) == {"loss": [1.0, 0.5, 1 / 3]}
    with pytest.raises(ConfigError, match="key: expected a histogram"): wandb_histograms(run, "grads/W1")
