"""The page in a real browser (headless Debian chromium): it loads without console errors, asks for
nothing over the network, every image and chart renders with something in it, and nothing is wider
than a laptop's or a phone's window. Screenshots stay in the test's tmp dir."""

from report_browser import inspect_page

from ocrbatch.report import read_folder, write_report


def test_the_page_renders_whole_at_laptop_and_phone_widths(model_folder, tmp_path):
    page = write_report(model_folder, output=tmp_path / "report.html", title="run-1")
    seen = inspect_page(page, tmp_path / "screenshots")
    record = read_folder(model_folder)
    # Six charts, the error gallery and the sample grid.
    expected = 6 + len(record.findings["mistakes"]) + len(record.dataset["summary"]["samples"])
    for width, what in seen.items():
        assert what["title"] == "run-1: ocrbatch run"
        assert what["errors"] == [], f"{width}: console errors {what['errors']}"
        assert what["requests"] == [], f"{width}: the page asked the network for {what['requests']}"
        images = what["images"]
        assert len(images) == expected
        blank = [i["alt"] for i in images if not (i["complete"] and i["width"] > 0 and i["height"] > 0)]
        assert blank == [], f"{width}: images that did not render: {blank}"
        empty = [i["alt"] for i in images if i["colours"] < 2]
        assert empty == [], f"{width}: images with nothing in them: {empty}"
        overflow = what["overflow"]
        assert overflow["page"] <= overflow["window"] and overflow["wide"] == [], f"{width}: wider than the window"
        assert what["screenshot"].stat().st_size > 10_000
