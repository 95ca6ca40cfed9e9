from oslo_config import cfg

OPTS = [
    cfg.StrOpt('executor', default='eventlet',
               help='The executor: eventlet or threading.'),
]


def patch():
    from eventlet import patcher
    if not patcher.is_monkey_patched('socket'):
        import eventlet; eventlet.monkey_patch()  # noqa: H905 misses `import x;`
