"""The embedded benchmark: a procedurally generated pool with ground truth, its teacher,
and the tiny evaluation suite, built offline by ``selbench pool build`` (see ``build.py``).

Modules: ``vocab`` (concepts and attributes), ``shapes``/``scenes``/``real``/``text_images``/
``corrupt`` (drawing), ``captions``, ``longtail``, ``plan`` (what each sample is),
``samples`` (drawing a plan in chunks), ``pool_files`` (shards and audit), ``evalsets``,
``zeroshot`` (teacher scores), ``metaclip`` (metadata entries), ``hashes``, ``presets``
(``harness/conf/synth/*.yaml``), ``teacher`` (the tiny open_clip teacher).
"""
