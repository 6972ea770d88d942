"""Recipes: one module per model family, each holding one `lightsage.recipes.base.Recipe` subclass.

`tabular` reads any table; `titanic` is the worked example. Add `NAME.py` here (or COPY it into
/opt/program/lightsage/recipes/ in your own Dockerfile) and select it with the hyperparameter `recipe=NAME`.
"""
