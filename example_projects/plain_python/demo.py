"""The plain-Python demo: typed variables read from a local JSON config, resolved per user.

Run with `make demo`. Edit variables.json while `--watch` is running and watch the values change
without a restart.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pydantic import BaseModel

import remotevars


class Assistant(BaseModel):
    model: str
    temperature: float
    max_tokens: int


banner_text = remotevars.var('banner_text', default='Welcome', description='The banner shown on every page')
assistant = remotevars.var(
    'assistant', type=Assistant, default=Assistant(model='small-model', temperature=0.0, max_tokens=200)
)
new_checkout = remotevars.var('new_checkout', default=False)
max_upload_mb = remotevars.var('max_upload_mb', default=25)  # not in the config: the code default

USERS = [('alice', 'free'), ('bob', 'pro'), ('carol', 'enterprise'), ('dave', 'free'), ('erin', 'pro')]


def show() -> None:
    print(f'{"user":<7} {"plan":<11} {"banner (label)":<48} {"assistant model (label)":<32} checkout  upload')
    for user, plan in USERS:
        with remotevars.targeting_context(user, attributes={'plan': plan}):
            banner, agent, checkout = banner_text.get(), assistant.get(), new_checkout.get()
            upload = max_upload_mb.get()
        print(
            f'{user:<7} {plan:<11} {f"{banner.value} ({banner.label})":<48} '
            f'{f"{agent.value.model} ({agent.label})":<32} {checkout.value!s:<9} {upload.value} ({upload.reason})'
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--config', type=Path, default=Path(__file__).with_name('variables.json'))
    parser.add_argument('--watch', action='store_true', help='keep running and re-print when the file changes')
    args = parser.parse_args()

    remotevars.configure(variables=remotevars.LocalVariablesOptions(config=args.config, watch=args.watch))
    print(f'remotevars demo: {len(remotevars.variables_get())} variables, config {args.config}\n')
    show()
    if args.watch:
        changed: list[remotevars.RefreshEvent] = []
        remotevars.get_client().add_listener(changed.append)
        print('\nWatching the file; edit it to see changes (Ctrl-C to stop).')
        try:
            while True:
                time.sleep(0.2)
                if changed:
                    names = ', '.join(c.name for e in changed for c in e.changes) or 'nothing'
                    changed.clear()
                    print(f'\nConfig changed ({names}):')
                    show()
        except KeyboardInterrupt:
            pass
    remotevars.shutdown()


if __name__ == '__main__':
    main()
