"""The one thing pyproject.toml cannot say: the package list.

Discovery finds every package under appliance/ (folders with an __init__.py). schemas/ sits at
the top of the repository, where auditors and roles read it, and ships inside the package as
appliance.schemas ([tool.setuptools.package-dir] in pyproject.toml maps it): no discovery can
find a package whose folder is outside its parent's, and pyproject.toml takes either a
discovery or a hand-written list, not both. Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["appliance", "appliance.*"]), "appliance.schemas"])
