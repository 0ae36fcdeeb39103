"""The inbox sensor asks for a load of exactly the datasets whose files changed."""

import dagster as dg

from pipelines import civil_affairs
from pipelines.resources import CitybaseHome


def evaluate(sensor, home, cursor):
    context = dg.build_sensor_context(cursor=cursor, resources={"citybase": CitybaseHome(home=str(home))})
    result = sensor.evaluate_tick(context)
    return result, context.cursor


def test_sensor_requests_runs_for_new_files_only(tmp_path):
    [sensor] = civil_affairs.defs.sensors
    inbox = tmp_path / "inbox" / "civil_affairs"
    inbox.mkdir(parents=True)

    result, cursor = evaluate(sensor, tmp_path, None)
    assert not result.run_requests and result.skip_message

    (inbox / "低保名册_202610.xlsx").write_bytes(b"x")
    (inbox / ".低保名册_202611.xlsx.part").write_bytes(b"half")  # a copy in progress: ignored
    (inbox / "~$低保名册_202610.xlsx").write_bytes(b"lock")  # Excel's lock file: ignored
    result, cursor = evaluate(sensor, tmp_path, cursor)
    [request] = result.run_requests
    assert request.asset_selection == [dg.AssetKey(["raw", "civil_affairs", "dibao"])]

    result, cursor = evaluate(sensor, tmp_path, cursor)
    assert not result.run_requests

    (inbox / "残疾人名册_202610.csv").write_bytes(b"a,b\n")
    result, cursor = evaluate(sensor, tmp_path, cursor)
    [request] = result.run_requests
    assert request.asset_selection == [dg.AssetKey(["raw", "civil_affairs", "disabled"])]
