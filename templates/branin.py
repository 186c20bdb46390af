"""A cheap objective for comparing search strategies: no training, a known optimum.

The loss is the Branin function of two uniform markers plus a penalty chosen by a categorical
marker; its minimum, about 0.398, needs x1 near -3.14, 3.14 or 9.42 with the matching x2 and the
'none' penalty. It has its own data(), so it needs no MNIST:

    hypertune compare templates/branin.py --algos tpe,rand,anneal,grid --grid-points 5 \\
        --max-evals 40 --repeats 3 --target 1.0
"""

from math import cos, pi

from hyperopt import STATUS_OK


def data():
    return None, None, None, None


def create_model(x_train, y_train, x_test, y_test):
    x1 = {{uniform(-5, 10)}}
    x2 = {{uniform(0, 15)}}
    penalty = {{choice(["none", "small", "large"])}}

    b, c = 5.1 / (4 * pi**2), 5 / pi
    branin = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * pi)) * cos(x1) + 10
    extra = {"none": 0.0, "small": 2.0, "large": 10.0}[penalty]
    return {"loss": branin + extra, "status": STATUS_OK}
