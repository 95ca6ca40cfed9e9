"""A made-up service module for the H905 peer check.

It mentions import eventlet in its docstring, which is not an import.
"""
import os

import eventlet
import eventlet.event as ev_event
import eventlet.green.subprocess as green_subprocess
from eventlet import greenthread
from eventlet import sleep
from eventlet import (
    tpool,
    semaphore,
)
from eventlet.green import socket

from oslo_service import eventlet_backdoor  # noqa
from oslo_utils import eventletutils  # noqa

# import eventlet (a comment, not an import)

LOG_NAME = 'eventlet.wsgi.server'


def run():
    try:
        import eventlet.hubs
    except ImportError:
        eventlet = None
    eventlet.hubs.use_hub('poll')
    greenthread.sleep(0)
    sleep(1)
    ev_event.Event()
    tpool.Proxy(os)
    semaphore.Semaphore()
    green_subprocess.Popen(['true'])
    socket.socket()
    eventlet_backdoor.initialize_if_enabled(None)
    eventletutils.is_monkey_patched('thread')
