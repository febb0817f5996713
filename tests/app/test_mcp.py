"""The app's MCP server (`launch(mcp_server=True)`), listed and called with the `mcp` client as an agent would.

Gradio names each public endpoint's tool after its Python function (not its `api_name`), describes its
parameters from the docstring's Args, and answers with one text per output, or with one text for the list
of all outputs: `str()` of the values, a Python literal rather than JSON.
"""

import ast
import asyncio
import base64
from datetime import timedelta

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from web.layout import EXAMPLES_DIR

pytestmark = pytest.mark.slow  # the real weights, a catalog to index, a server


@pytest.fixture(scope="module")
def mcp_visit(served_app):
    """The app's tools by name, the answer of `search_text` to "sofa", top 3, and of `search` to an example
    photo sent as a data: URI, over streamable HTTP."""

    async def visit():
        url = served_app.rstrip("/") + "/gradio_api/mcp/"
        async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            answer = await session.call_tool(
                "search_text", {"words": "sofa", "top_k": 3}, read_timeout_seconds=timedelta(seconds=120)
            )
            photo = "data:image/jpeg;base64," + base64.b64encode((EXAMPLES_DIR / "bedroom.jpg").read_bytes()).decode()
            searched = await session.call_tool(
                "search", {"image": photo, "top_k": 2}, read_timeout_seconds=timedelta(seconds=120)
            )
            return tools, answer, searched

    return asyncio.run(visit())


def _outputs(answer) -> list:
    """The answer's output values, however Gradio grouped them into texts."""
    values = []
    for item in answer.content:
        assert item.type == "text", item
        try:  # "root=" prefixes a gr.JSON output of an event outside the queue
            value = ast.literal_eval(item.text.removeprefix("root="))
        except (ValueError, SyntaxError):
            value = item.text  # a plain text output, e.g. Markdown
        values.extend(value if isinstance(value, list) and len(answer.content) == 1 else [value])
    return values


def test_the_public_endpoints_are_tools_described_by_their_docstrings(mcp_visit):
    tools, _, _ = mcp_visit
    assert {"search", "search_text"} <= tools.keys()
    words = tools["search_text"].inputSchema["properties"]["words"]
    assert words["type"] == "string" and words.get("description")  # from the docstring's Args
    assert "words" in tools["search_text"].inputSchema.get("required", [])
    assert tools["search"].inputSchema["properties"]["image"]["type"] == "string"  # a URL or a data: URI


def test_search_text_answers_with_catalog_products(mcp_visit):
    _, answer, _ = mcp_visit
    assert not answer.isError, answer.content
    [result] = [value for value in _outputs(answer) if isinstance(value, dict) and "products" in value]
    products = result["products"]
    assert len(products) == 3
    for product in products:
        assert {"id", "name", "category", "price", "link", "image", "score"} <= product.keys()


def test_search_answers_with_the_objects_of_a_photo(mcp_visit):
    _, _, searched = mcp_visit
    assert not searched.isError, searched.content
    [result] = [value for value in _outputs(searched) if isinstance(value, dict) and "objects" in value]
    assert result["objects"] and all(len(o["products"]) == 2 for o in result["objects"])
