"""The seed's search space for an MNIST MLP: depth, width, activation, regularization, optimizer.

    hypertune space templates/mlp_space.py
    hypertune tune templates/mlp_space.py --max-evals 50 --epochs 5 --patience 2

Layers 2 and 3 exist only when ``n_layers`` asks for them, so their units are sampled (and
logged) only then; each optimizer has its own learning-rate range.
"""

from math import log

import keras
from keras import layers

batch_size = {{choice([64, 128, 256])}}


def create_model():
    n_layers = {{choice([1, 2, 3])}}
    activation = {{choice(["relu", "sigmoid"])}}
    initializer = {{choice(["he_normal", "glorot_uniform"])}}
    batch_norm = {{choice([False, True])}}
    dropout = {{uniform(0.0, 0.5)}}

    model = keras.Sequential([keras.Input(shape=(784,))])

    def block(units):
        model.add(layers.Dense(units, kernel_initializer=initializer, use_bias=not batch_norm))
        if batch_norm:
            model.add(layers.BatchNormalization())
        model.add(layers.Activation(activation))
        model.add(layers.Dropout(dropout))

    units_1 = {{choice([128, 256, 512, 1024])}}
    block(units_1)
    if n_layers >= 2:
        units_2 = {{choice([64, 128, 256, 512])}}
        block(units_2)
    if n_layers == 3:
        units_3 = {{choice([32, 64, 128, 256])}}
        block(units_3)
    model.add(layers.Dense(10, activation="softmax"))

    optimizer = {{choice(["sgd", "adam", "rmsprop"])}}
    if optimizer == "sgd":
        chosen = keras.optimizers.SGD(
            learning_rate={{loguniform(log(1e-3), log(0.3))}}, momentum=0.9
        )
    elif optimizer == "adam":
        chosen = keras.optimizers.Adam(learning_rate={{loguniform(log(1e-4), log(1e-2))}})
    else:
        chosen = keras.optimizers.RMSprop(learning_rate={{loguniform(log(1e-4), log(1e-2))}})

    model.compile(optimizer=chosen, loss="categorical_crossentropy", metrics=["accuracy"])
    return model
