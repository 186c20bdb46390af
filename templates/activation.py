"""The classic exercise: the same MLP with sigmoid or ReLU units, and nothing else tuned.

hypertune tune templates/activation.py --max-evals 4 --algo rand --epochs 5
"""

import keras
from keras import layers


def create_model():
    activation = {{choice(["sigmoid", "relu"])}}
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(512, activation=activation),
            layers.Dense(128, activation=activation),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model
