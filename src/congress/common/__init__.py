"""What every Congress process shares: its options and its logging.

- ``opts``: every option of Congress (the original's names, groups and defaults, plus
  ``state_path``), the ``congress`` namespace of ``oslo-config-generator`` (``list_opts``) and
  the defaults Congress sets on library options (``set_config_defaults``: CORS, ``[database]``).
- ``config``: registers the options on ``oslo_config.cfg.CONF`` (``register_opts``), parses the
  command line and the config files and sets up logging (``init``), and answers what takes more
  than one option (``database_url``, ``library_path``, ``key_path``, ``allowed_drivers``).
- ``log``: oslo.log registration and set-up.

Imports: the standard library, oslo.config and oslo.log, and, to set the defaults of their
options only, ``oslo_db.options`` and ``oslo_middleware.cors`` (the latter only inside
``opts.set_config_defaults``). Nothing here imports another Congress layer.
"""
