"""The support app's runtime variables, imported by the extension (``REMOTEVARS_MODULES``).

Declared here with their types and code defaults; versions, labels and rollouts live on the variables
server. The Django example declares the same four, so one server drives both apps.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

import remotevars


class AssistantSettings(BaseModel):
    """How the support assistant answers: a structured variable, validated on every new version."""

    model: str = 'small-model'
    temperature: float = Field(default=0.2, ge=0, le=2)
    greeting: str = 'Hi! How can I help?'
    max_answer_words: int = 120


banner_text = remotevars.var(
    'banner_text', default='Welcome to Acme support', description='The banner above every page.'
)
assistant = remotevars.var('assistant', default=AssistantSettings(), description='Settings of the support assistant.')
live_chat = remotevars.var('live_chat', default=False, description='Whether the live chat section is shown.')
help_layout = remotevars.var(
    'help_layout', default='classic', description='Layout of the help articles: classic or cards (the canary).'
)
