"""`mogenctl validate --decode` finds the images that exist but will not
decode, which the plain existence check cannot see."""

import json
import subprocess

from harness import binary, make_images, write_csv


def test_decode_reports_each_bad_file_with_row_line_and_reason(tmp_path):
    names = make_images(tmp_path, 6, fmt="JPEG")
    (tmp_path / names[1]).write_bytes(b"<html>not found</html>")
    data = (tmp_path / names[2]).read_bytes()
    (tmp_path / names[2]).write_bytes(data[:len(data) // 2])          # truncated
    data = (tmp_path / names[3]).read_bytes()
    at = data.index(b"\xff\xdb")
    (tmp_path / names[3]).write_bytes(data[:at] + b"\x12\x34" + data[at:])  # stray bytes
    write_csv(tmp_path / "t.csv", ["image", "label"], [[n, "ab"[i % 2]] for i, n in enumerate(names)])
    (tmp_path / "c.json").write_text(json.dumps({
        "socket": str(tmp_path / "s"), "image": {"size": [8, 8]},
        "outputs": {"multi_class": [{"o": "label"}]},
        "streams": {"train": {"csv": "t.csv", "batch_size": 2}}}))

    plain = subprocess.run([str(binary("mogenctl")), "validate", str(tmp_path / "c.json")],
                           capture_output=True, text=True)
    assert plain.returncode == 0 and "0 warnings" in plain.stdout

    run = subprocess.run([str(binary("mogenctl")), "validate", "--decode",
                          str(tmp_path / "c.json")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout   # mogend would start: these are warnings
    out = run.stdout
    assert "decode: 6 images decoded" in out and "2 failed, 1 with a decoder warning" in out
    assert f"row 1 (line 3): {tmp_path / names[1]}: not a JPEG or PNG file" in out
    assert f"row 2 (line 4): {tmp_path / names[2]}: " in out
    # The file after the truncated one decodes (a reused decoder must recover).
    assert f"row 3 (line 5): {tmp_path / names[3]}: decodes, with a warning" in out
    assert f"{names[4]}" not in out and f"{names[0]}" not in out

    js = json.loads(subprocess.run([str(binary("mogenctl")), "validate", "--decode", "--json",
                                    str(tmp_path / "c.json")],
                                   capture_output=True, text=True).stdout)
    assert js["decode"]["images"] == 6 and js["decode"]["failed"] == 2
    assert js["decode"]["warned"] == 1 and len(js["warnings"]) == 3
