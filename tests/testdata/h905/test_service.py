import unittest
from unittest import mock

import eventlet
import fixtures


class TestService(unittest.TestCase):
    @mock.patch('eventlet.sleep')
    def test_sleep(self, m):
        self.useFixture(fixtures.MonkeyPatch(
            'eventlet.spawn', mock.Mock()))
        eventlet.spawn.assert_not_called()


def optional():
    try:
        import eventlet as _ev  # noqa
    except ImportError:
        return None
    import os, eventlet  # noqa
    return _ev, os
