"""Agents: every component action as a tool an AI agent can call (``tools``), served over the
Model Context Protocol (``server``, needs the ``[mcp]`` extra). Vendor-neutral."""

from twilio_component.agents.tools import IDEMPOTENCY_KEY, Outcome, Tool, Toolbox, select, tools_of

__all__ = ["IDEMPOTENCY_KEY", "Outcome", "Tool", "Toolbox", "select", "tools_of"]
