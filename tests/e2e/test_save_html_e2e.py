"""`widget.save_html` opened in chromium with no kernel: the last frame shows and display controls work."""

import pytest

import xai_widgets as xw

pytestmark = pytest.mark.e2e

CANVAS = """() => {
  const canvas = document.querySelector(".xw-explorer canvas.xw-canvas");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) colours.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
  return { width: canvas.width, colours: colours.size, sum: data.reduce((a, b) => a + b, 0) };
}"""


def test_a_saved_page_shows_the_last_frame_without_a_kernel(browser, tmp_path):
    model = xw.zoo.load("shapes_cnn")
    images, _, _ = xw.zoo.shapes(1, seed=5)
    names = ["<img src=x onerror=alert(1)>"] + list(xw.zoo.SHAPES_CLASSES[1:])
    widget = xw.show(model, images[0], class_names=names, target=0, method="integrated_gradients",
                     options={"integrated_gradients": {"steps": 16}})
    assert widget.wait(timeout=120)
    path = widget.save_html(tmp_path / "explorer.html")
    page = browser.new_page()
    problems, dialogs, requests = [], [], []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(path.as_uri())
        page.wait_for_function("() => document.querySelector('.xw-explorer')?.dataset.progress === '1'")
        shown = page.evaluate(CANVAS)
        assert shown["width"] == 64 and shown["colours"] >= 16
        assert page.locator(".xw-explorer select.xw-method").is_disabled()  # compute needs a kernel
        page.locator('.xw-explorer input[name="opacity"]').fill("1")
        assert page.evaluate(CANVAS)["sum"] != shown["sum"]  # display controls still act
        assert names[0] in page.locator(".xw-explorer select.xw-target").inner_text()
        assert page.locator(".xw-explorer img").count() == 0
        assert [url for url in requests if not url.startswith(("file:", "blob:", "data:"))] == []
        assert problems == [] and dialogs == []
    finally:
        page.close()
