"""hypertune: Bayesian hyperparameter tuning of Keras models.

Write a Keras model once with Hyperas-style markers (``{{choice([256, 512])}}``), and hypertune
compiles it into a hyperopt search space, runs TPE studies with every trial logged to MLflow, and
trains the best configuration::

    hypertune tune templates/mlp_space.py --max-evals 50
    hypertune train templates/mlp_space.py --from-study mlp_space
"""

__version__ = "0.1.0"
