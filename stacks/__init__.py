"""The CloudFormation stack of the training platform and one construct per concern it is built from."""
