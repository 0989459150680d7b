import AutoDiff
import NN

// Two interleaving half circles: 1,000 noisy points, 800 to train on and 200 held out.
let (train, validation) = makeMoons(samples: 1000, noise: 0.2, seed: 0).split(validationFraction: 0.2, seed: 1)

// A 2-16-16-1 network with ReLU between the layers; its output is a logit (> 0 means class 1).
var generator = RandomGenerator(seed: 2)
let model = Sequential<Float> {
    Linear(2, 16, generator: &generator)
    ReLU()
    Linear(16, 16, generator: &generator)
    ReLU()
    Linear(16, 1, generator: &generator)
}
let optimizer = Adam(for: model, learningRate: 0.01)

for epoch in 1...100 {
    var lossSum: Float = 0
    for batch in train.batches(size: 64, shuffledBy: &generator) {
        optimizer.zeroGrad()
        let loss = binaryCrossEntropy(logits: model(batch.features), targets: batch.labels.reshaped([-1, 1]))
        loss.backward()
        optimizer.step()
        lossSum += loss.item * Float(batch.count)
    }
    if epoch % 20 == 0 { print("epoch \(epoch): training loss \(lossSum / Float(train.count))") }
}

let accuracy = withoutGrad {
    binaryAccuracy(outputs: model(validation.features), targets: validation.labels, threshold: 0)
}
print("validation accuracy \(accuracy) on \(validation.count) held-out points")
