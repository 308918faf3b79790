"""The smallest MCPServer: one tool, stdio. The yardstick for cold start and for the SDK's own call latency."""

from mcp.server.mcpserver import MCPServer


def build() -> MCPServer:
    server = MCPServer("hello")

    @server.tool()
    def hello(name: str) -> str:
        """Say hello."""
        return f"hello {name}"

    return server


if __name__ == "__main__":
    build().run("stdio")
