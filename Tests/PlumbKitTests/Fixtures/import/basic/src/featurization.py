# featurization
