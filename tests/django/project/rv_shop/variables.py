"""The shop app's variables, found by django_remotevars' discovery of each app's ``variables`` module."""

from __future__ import annotations

from pydantic import BaseModel

import remotevars


class AgentConfig(BaseModel):
    """A structured variable, read in templates as ``{{ remotevars.agent_config.model }}``."""

    model: str = 'small-model'
    temperature: float = 0.2


banner_text = remotevars.var('banner_text', default='Welcome', description='The banner above every page.')
max_items = remotevars.var('max_items', default=10)
agent_config = remotevars.var('agent_config', default=AgentConfig())
checkout_flow = remotevars.var('checkout_flow', default='classic', description='Which checkout a visitor sees.')
