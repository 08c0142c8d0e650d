"""Congress: policy as a service for clouds."""
